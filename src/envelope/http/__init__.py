"""The ASGI app: routes only; everything else happens in the pipeline."""
