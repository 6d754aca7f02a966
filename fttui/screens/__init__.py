"""The app's screens: the main screen (layout, panes, actions) and the modal dialogs."""
