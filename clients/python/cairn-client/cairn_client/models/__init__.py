"""Contains all the data models used in inputs/outputs"""

from .approval import Approval
from .approval_gate import ApprovalGate
from .approval_link import ApprovalLink
from .approval_list import ApprovalList
from .batch_list import BatchList
from .batch_progress import BatchProgress
from .batch_status import BatchStatus
from .batch_view import BatchView
from .case import Case
from .catch_up import CatchUp
from .channel import Channel
from .concurrency_policy import ConcurrencyPolicy
from .create_workflow import CreateWorkflow
from .create_workflow_webhooks_type_0_item import CreateWorkflowWebhooksType0Item
from .decision import Decision
from .deleted_plugin import DeletedPlugin
from .email_target import EmailTarget
from .error_reason import ErrorReason
from .event_kind import EventKind
from .event_list import EventList
from .event_view import EventView
from .fail_mode import FailMode
from .fire_detail import FireDetail
from .fire_outcome import FireOutcome
from .fire_view import FireView
from .gate_progress import GateProgress
from .get_run_until import GetRunUntil
from .grant_rule_type_1 import GrantRuleType1
from .health import Health
from .http_grant import HttpGrant
from .item_view import ItemView
from .items_summary import ItemsSummary
from .key_info import KeyInfo
from .key_list import KeyList
from .link_decision import LinkDecision
from .map_over import MapOver
from .new_status import NewStatus
from .notifications import Notifications
from .notify_event import NotifyEvent
from .openapi_response_200 import OpenapiResponse200
from .overlap import Overlap
from .parallel import Parallel
from .parallel_branches import ParallelBranches
from .pending_action import PendingAction
from .plan_channel import PlanChannel
from .plan_decision import PlanDecision
from .plan_decision_view import PlanDecisionView
from .plan_link_decision import PlanLinkDecision
from .plan_rejection import PlanRejection
from .plan_state import PlanState
from .plan_view import PlanView
from .plugin_body import PluginBody
from .plugin_list import PluginList
from .plugin_summary import PluginSummary
from .plugin_versions import PluginVersions
from .problem import Problem
from .problem_details import ProblemDetails
from .progress import Progress
from .recent_run import RecentRun
from .resume import Resume
from .resume_run_until import ResumeRunUntil
from .retry_policy import RetryPolicy
from .run_failure import RunFailure
from .run_list import RunList
from .run_status import RunStatus
from .run_view import RunView
from .schedule_spec import ScheduleSpec
from .schedule_summary import ScheduleSummary
from .schedule_view import ScheduleView
from .scope import Scope
from .secret_info import SecretInfo
from .secret_list import SecretList
from .secret_value import SecretValue
from .start_batch import StartBatch
from .start_run import StartRun
from .step_definition import StepDefinition
from .step_detail import StepDetail
from .step_failure import StepFailure
from .step_log import StepLog
from .step_status import StepStatus
from .step_view import StepView
from .sub_workflow import SubWorkflow
from .switch import Switch
from .timeout_action import TimeoutAction
from .trigger_type_0 import TriggerType0
from .trigger_type_0_kind import TriggerType0Kind
from .trigger_type_1 import TriggerType1
from .trigger_type_1_kind import TriggerType1Kind
from .trigger_type_2 import TriggerType2
from .trigger_type_2_kind import TriggerType2Kind
from .trigger_type_3 import TriggerType3
from .trigger_type_3_kind import TriggerType3Kind
from .update_workflow import UpdateWorkflow
from .version_body import VersionBody
from .version_list import VersionList
from .version_summary import VersionSummary
from .wait import Wait
from .webhook_target import WebhookTarget
from .workflow_body import WorkflowBody
from .workflow_definition import WorkflowDefinition
from .workflow_list import WorkflowList
from .workflow_status import WorkflowStatus

__all__ = (
    "Approval",
    "ApprovalGate",
    "ApprovalLink",
    "ApprovalList",
    "BatchList",
    "BatchProgress",
    "BatchStatus",
    "BatchView",
    "Case",
    "CatchUp",
    "Channel",
    "ConcurrencyPolicy",
    "CreateWorkflow",
    "CreateWorkflowWebhooksType0Item",
    "Decision",
    "DeletedPlugin",
    "EmailTarget",
    "ErrorReason",
    "EventKind",
    "EventList",
    "EventView",
    "FailMode",
    "FireDetail",
    "FireOutcome",
    "FireView",
    "GateProgress",
    "GetRunUntil",
    "GrantRuleType1",
    "Health",
    "HttpGrant",
    "ItemsSummary",
    "ItemView",
    "KeyInfo",
    "KeyList",
    "LinkDecision",
    "MapOver",
    "NewStatus",
    "Notifications",
    "NotifyEvent",
    "OpenapiResponse200",
    "Overlap",
    "Parallel",
    "ParallelBranches",
    "PendingAction",
    "PlanChannel",
    "PlanDecision",
    "PlanDecisionView",
    "PlanLinkDecision",
    "PlanRejection",
    "PlanState",
    "PlanView",
    "PluginBody",
    "PluginList",
    "PluginSummary",
    "PluginVersions",
    "Problem",
    "ProblemDetails",
    "Progress",
    "RecentRun",
    "Resume",
    "ResumeRunUntil",
    "RetryPolicy",
    "RunFailure",
    "RunList",
    "RunStatus",
    "RunView",
    "ScheduleSpec",
    "ScheduleSummary",
    "ScheduleView",
    "Scope",
    "SecretInfo",
    "SecretList",
    "SecretValue",
    "StartBatch",
    "StartRun",
    "StepDefinition",
    "StepDetail",
    "StepFailure",
    "StepLog",
    "StepStatus",
    "StepView",
    "SubWorkflow",
    "Switch",
    "TimeoutAction",
    "TriggerType0",
    "TriggerType0Kind",
    "TriggerType1",
    "TriggerType1Kind",
    "TriggerType2",
    "TriggerType2Kind",
    "TriggerType3",
    "TriggerType3Kind",
    "UpdateWorkflow",
    "VersionBody",
    "VersionList",
    "VersionSummary",
    "Wait",
    "WebhookTarget",
    "WorkflowBody",
    "WorkflowDefinition",
    "WorkflowList",
    "WorkflowStatus",
)
