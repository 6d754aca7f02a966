"""The main screen's five panes, each a container that owns its part of the screen.

Each pane holds its widgets, the workers that load its data, its timers and its
state, and reports what happened with the messages in `fttui.messages`; the main
screen (`fttui.screens.main`) only lays them out, switches between them, routes
those messages and runs the user's actions.
"""

from fttui.panes.base import Pane
from fttui.panes.detail import DetailPane
from fttui.panes.events import EventsPane
from fttui.panes.files import FilesPane
from fttui.panes.jobs import JobsPane
from fttui.panes.plots import PlotsPane

__all__ = ["DetailPane", "EventsPane", "FilesPane", "JobsPane", "Pane", "PlotsPane"]
