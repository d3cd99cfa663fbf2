"""The ``PROMOTE-*`` rule IDs (joined into :data:`mlops_ci.rules.RULES`). Never rename one."""

from __future__ import annotations

from mlops_ci.findings import Severity
from mlops_ci.rules import Rule

PROMOTE_RULES: tuple[Rule, ...] = (
    Rule(
        "PROMOTE-FOREIGN-FILE",
        "promote-verify",
        "Promotion PR changes other files",
        "A promotion PR/MR may change only the environments' state files (<state_dir>/<env>.yaml of"
        " the environments the base branch configures); any other path added, changed, deleted or"
        " renamed (the configuration, a workflow, deploy/prod.yaml.bak) is refused.",
        "Move other changes to their own PR; promotion PRs are made by 'mlops-ci promote'.",
        Severity.HIGH,
        cwe=345,
    ),
    Rule(
        "PROMOTE-LADDER",
        "promote-verify",
        "State change out of ladder order",
        "An environment would run a digest or version the previous environment does not run on the"
        " base branch (a hand edit, or a skipped environment), or the entry differs in any other"
        " field from the previous environment's, or claims a pin without being a rollback.",
        "Promote through each environment in order with 'mlops-ci promote MODEL --to ENV'.",
        Severity.CRITICAL,
        cwe=345,
    ),
    Rule(
        "PROMOTE-EVIDENCE",
        "promote-verify",
        "Promotion evidence does not verify",
        "The model files at the entry's promoted_from.commit do not hash to the entry's digest, or"
        " the signature or gate-report attestation does not verify under the base branch's"
        " identity policy, or the environment's policies fail.",
        "Sign the model in CI ('mlops-ci sign') with the configured identity and fix the policy findings.",
        Severity.CRITICAL,
        cwe=347,
    ),
    Rule(
        "PROMOTE-REMOVED",
        "promote-verify",
        "Model removed from an environment",
        "A state-file change removes a model; environments change only by promotion or rollback.",
        "Restore the entry, or retire the model through a reviewed change of the configuration.",
        Severity.HIGH,
        cwe=345,
    ),
    Rule(
        "PROMOTE-ROLLBACK",
        "promote-verify",
        "Rollback to a release the environment never ran",
        "A pinned entry claims to be a rollback, but the environment's history on the base branch"
        " has no release with the same version, digest, artifact, evidence and commit, or its"
        " rollback_of does not name what the environment runs.",
        "Roll back with 'mlops-ci rollback MODEL --env ENV --to VERSION' to a version from 'mlops-ci history'.",
        Severity.CRITICAL,
        cwe=345,
    ),
    Rule(
        "PROMOTE-STATE-FILE",
        "promote-verify",
        "State file deleted, renamed or no longer a regular file",
        "The PR deletes a state file (with rename detection off, a rename is a deletion plus an"
        " addition), makes it executable, or replaces it by a symbolic link or a submodule.",
        "Edit state files in place with 'mlops-ci promote' or 'mlops-ci rollback'.",
        Severity.CRITICAL,
        cwe=59,
    ),
    Rule(
        "PROMOTE-SCHEMA",
        "promote-verify",
        "State file does not follow the strict schema",
        "A changed state file has an unknown key (top level, entry or promoted_from), an entry"
        " outside 'models:', a model the base branch does not configure, a value of the wrong type"
        ' (pinned as a string such as "no", a malformed digest or commit), a duplicate key, or a'
        " YAML anchor, alias, merge key or explicit tag.",
        "Let 'mlops-ci promote' write the file; fix the key or value at the reported line.",
        Severity.HIGH,
        cwe=20,
    ),
    Rule(
        "PROMOTE-ARTIFACT",
        "promote-verify",
        "State entry names another artifact",
        "An entry's artifact, signature or attestation is not the path the base branch's"
        " configuration gives the model (a rollback pointing at src/... or models/evil/...).",
        "State entries always name the configured model path; promote or roll back with mlops-ci.",
        Severity.CRITICAL,
        cwe=706,
    ),
    Rule(
        "PROMOTE-COMMIT",
        "promote-verify",
        "Evidence commit is not on the base branch",
        "The entry's promoted_from.commit is missing, is not a commit, or is not reachable from the"
        " base branch (a commit only the PR has): its bytes were never reviewed.",
        "Promote from a commit that is merged on the base branch (sign and merge the model first).",
        Severity.CRITICAL,
        cwe=346,
    ),
    Rule(
        "PROMOTE-STALE",
        "promote-verify",
        "Promotion PR is behind the base branch",
        "A state file the PR changes was changed on the base branch since the PR forked (or the PR"
        " shares no history with it): the merge would combine versions nobody verified.",
        "Re-run 'mlops-ci promote' (it rebuilds the branch from the base) or rebase the PR.",
        Severity.HIGH,
        cwe=367,
    ),
    Rule(
        "PROMOTE-MULTI-COMMIT",
        "promote-verify",
        "Promotion PR has intermediate commits",
        "The PR adds more than one commit (merge commits aside): with rebase merging each of them"
        " would land on the base branch, and only the last state was verified.",
        "Re-run 'mlops-ci promote' or 'mlops-ci rollback'; it builds one commit on the base branch.",
        Severity.HIGH,
        cwe=345,
    ),
)
