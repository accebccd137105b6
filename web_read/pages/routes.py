"""Routes of the internal pages as (path, name, view), joined to the read API's in views.py."""

from __future__ import annotations

from faust import web

from web_read.pages.assets import ASSETS_PATH, PageAssetView
from web_read.pages.pipeline import PipelinePageView, PipelineStateView
from web_read.pages.topics import TopicMessagesView, TopicsPageView, TopicsStateView

ROUTES: list[tuple[str, str, type[web.View]]] = [
    (f"{ASSETS_PATH}{{name}}", "page-asset", PageAssetView),
    # The live pipeline page and the JSON it polls.
    ("/pipeline", "pipeline", PipelinePageView),
    ("/pipeline/state", "pipeline-state", PipelineStateView),
    # The topic browser.
    ("/topics", "topics-page", TopicsPageView),
    ("/topics/state", "topics-state", TopicsStateView),
    ("/topics/{topic}/{partition}/messages", "topic-messages", TopicMessagesView),
]
