"""WOCAS: What Our Customers Are Saying — speech and text analytics for contact centres."""

__version__ = "0.1.0"
