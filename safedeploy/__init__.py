"""Runtime library of the safe-deployment platform: plain Python, usable from CodeBuild, Lambda and a shell."""
