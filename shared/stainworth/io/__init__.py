"""Reading and writing microscopy files."""
