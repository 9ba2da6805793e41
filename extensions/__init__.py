"""The stacks engine: catalog, keyword detection, port allocation, secrets, and the Jinja extension."""
