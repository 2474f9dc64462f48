"""A HotRoute calls its endpoint with the body and the request only; any other endpoint is refused
when the route is declared, not when a request comes."""

import pytest
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from services.kit.hot_route import HotRoute


class Question(BaseModel):
    text: str


async def takes_body_and_request(question: Question, request: Request) -> Response:
    return Response()


async def takes_a_query_too(question: Question, request: Request, limit: int) -> Response:
    return Response()


async def takes_no_request(question: Question) -> Response:
    return Response()


def takes_body_and_request_synchronously(question: Question, request: Request) -> Response:
    return Response()


def declare(endpoint) -> None:
    APIRouter(route_class=HotRoute).add_api_route("/questions", endpoint, methods=["POST"])


def test_an_endpoint_taking_the_body_and_the_request_is_accepted():
    declare(takes_body_and_request)


@pytest.mark.parametrize("endpoint", [takes_a_query_too, takes_no_request, takes_body_and_request_synchronously])
def test_an_endpoint_it_cannot_call_is_refused_when_declared(endpoint):
    with pytest.raises(TypeError, match=endpoint.__name__):
        declare(endpoint)
