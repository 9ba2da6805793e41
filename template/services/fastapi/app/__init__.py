"""The backend's FastAPI application."""
