"""FastAPI stack: concurrent requests share model calls through the dynamic batcher."""

from servers.fastapi_app import create_app

app = create_app("batcher")
