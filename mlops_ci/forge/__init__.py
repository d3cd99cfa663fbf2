"""GitHub and GitLab REST clients behind one interface, for promotion pull/merge requests."""
