"""One stack per concern, composed per environment by `stacks.stage`."""
