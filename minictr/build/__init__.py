"""`minictr build`: Dockerfiles to images. The front end (dockerfile.py,
expand.py, dockerignore.py) is plain text work; the builder (builder.py)
runs each stage's steps, RUN through the engine and COPY/ADD straight into
the image store's layer writer, with a cache (cache.py) keyed as docker's."""
