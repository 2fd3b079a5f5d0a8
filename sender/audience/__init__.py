"""Who can receive: the recipient mixin, the default recipient models, and the registry."""
