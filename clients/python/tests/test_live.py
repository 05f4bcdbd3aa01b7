"""The generated Python client against a real `cairn serve`: create a
workflow, start a run by the workflow's name, wait until it settles (paused
at its gate), resume it, wait until it settles again (completed), and read a
refusal as a problem. CAIRN_URL and CAIRN_API_KEY name the server."""

import os
import unittest

from cairn_client import AuthenticatedClient
from cairn_client.api.runs import get_run, resume_run, start_run
from cairn_client.api.workflows import create_workflow
from cairn_client.models import (
    CreateWorkflow,
    GetRunUntil,
    NewStatus,
    ProblemDetails,
    Resume,
    RunStatus,
    RunView,
    StartRun,
    WorkflowBody,
)


def definition():
    return {
        "name": "py-review",
        "steps": [
            {
                "name": "draft",
                "type": "transform",
                "config": {"template": {"title": "{{ topic | title }}"}},
                "input": "{{ input }}",
            },
            {
                "name": "check",
                "type": "noop",
                "input": "{{ steps.draft.output }}",
                "approval": {"message": "Publish?"},
            },
        ],
    }


class LiveServer(unittest.TestCase):
    def setUp(self):
        self.client = AuthenticatedClient(
            base_url=os.environ["CAIRN_URL"], token=os.environ["CAIRN_API_KEY"]
        )

    def test_a_run_is_started_settled_resumed_and_settled(self):
        created = create_workflow.sync(
            client=self.client,
            body=CreateWorkflow.from_dict(
                {"definition": definition(), "status": "active"}
            ),
        )
        self.assertIsInstance(created, WorkflowBody, created)
        started = start_run.sync(
            id="py-review",
            client=self.client,
            body=StartRun.from_dict({"input": {"topic": "python clients"}}),
        )
        self.assertIsInstance(started, RunView, started)
        self.assertEqual(started.number, 1)

        paused = get_run.sync(
            id=started.id, client=self.client, wait="30s", until=GetRunUntil.SETTLED
        )
        self.assertEqual(paused.status, RunStatus.PAUSED)
        self.assertEqual(paused.pending_action.step, "check")
        self.assertEqual(paused.pending_action.data["title"], "Python Clients")

        resumed = resume_run.sync(
            id=started.id,
            client=self.client,
            body=Resume.from_dict({"step": "check", "input": "approve"}),
        )
        self.assertIsInstance(resumed, RunView, resumed)
        done = get_run.sync(
            id=started.id,
            client=self.client,
            wait="30s",
            after=paused.last_event,
            until=GetRunUntil.SETTLED,
        )
        self.assertEqual(done.status, RunStatus.COMPLETED)
        self.assertEqual(done.result, {"title": "Python Clients"})

    def test_a_refusal_is_a_problem(self):
        missing = get_run.sync(id="no-such-run", client=self.client)
        self.assertIsInstance(missing, ProblemDetails)
        self.assertEqual(missing.type_, "urn:cairn:problem:not-found")


if __name__ == "__main__":
    unittest.main()
