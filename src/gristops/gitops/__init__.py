"""Pull-based deploys: a Git repository holds the desired state, a loop makes it live."""
