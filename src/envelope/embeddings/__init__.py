"""Built-in sentence embedders that run in process, without torch."""
