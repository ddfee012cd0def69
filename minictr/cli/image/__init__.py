"""Image commands: pull, push, images, rmi, tag, inspect, history, prune, save, load, login."""
