"""What a test declares: a case spec from a marker's arguments, its matrix rows, and suite files."""
