"""Folder of the `deepfake_detection` evaluate metric (the package marker ships the script in wheels)."""
