"""The release steps the buildspecs run (`python -m safedeploy.release.<step>`), one module per step."""
