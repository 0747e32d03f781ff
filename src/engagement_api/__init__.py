"""An open, self-hostable implementation of the Engagement API."""

__version__ = "0.1.0"
