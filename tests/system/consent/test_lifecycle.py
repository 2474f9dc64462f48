"""The consent expiry job run once from the command line, as a CronJob runs it. What the job does
is tested in process (tests/service/consent/test_lifecycle.py); this is the `crm` command's own part."""


def test_the_expiry_job_runs_once_from_the_command_line(system):
    result = system.run_cli("run-job", "consent", "expire-consents")

    assert result.stdout.startswith("consent/expire-consents: ") and "handled" in result.stdout
