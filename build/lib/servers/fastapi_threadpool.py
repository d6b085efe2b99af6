"""FastAPI stack: the model runs in a bounded thread pool."""

from servers.fastapi_app import create_app

app = create_app("threadpool")
