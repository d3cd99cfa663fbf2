"""GitOps promotion: environments' state files change only through reviewed pull/merge requests.

``state`` reads and edits ``deploy/<env>.yaml``; ``plan`` decides, without I/O, what a promotion
or rollback changes and refuses ladder skips, unknown digests and pinned environments;
``evidence`` verifies signatures, attestations and policies; ``apply`` makes the commit, pushes
the branch and opens the PR/MR; ``history`` answers "what ran where, when" from the git log of
the state files; ``review`` is ``mlops-ci promote verify``, the check a PR must pass.
"""
