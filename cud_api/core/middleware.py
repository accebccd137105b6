"""Request middleware: refuse oversized bodies with a real 413."""
