"""Gradio Space for delocate-hf."""
