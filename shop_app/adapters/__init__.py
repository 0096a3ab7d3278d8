"""The only modules that talk to outside systems; one module per system."""
