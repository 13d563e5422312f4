"""Streamlit controls shared by several pages, one concern per module."""
