"""Folder of the `forgery_localization` evaluate metric (the package marker ships the script in wheels)."""
