"""The app's screens: the main panes and the modal dialogs, one module each."""
