"""HTTP adapter of tierline (FastAPI); built in the serving issue."""
