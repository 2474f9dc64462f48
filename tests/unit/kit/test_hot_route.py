"""A HotRoute calls its endpoint with path parameters, a body, the caller and the request only; any
other endpoint is refused when the route is declared, not when a request comes."""

import pytest
from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel

from services.kit.hot_route import HotRoute
from services.kit.identity import ActorDep, caller
from services.kit.params import CustomerId


class Question(BaseModel):
    text: str


async def takes_a_body_and_the_request(question: Question, request: Request) -> Response:
    return Response()


async def takes_a_path_parameter_and_the_caller(customer_id: CustomerId, actor: ActorDep) -> Response:
    return Response()


async def takes_a_query_parameter(customer_id: CustomerId, limit: int) -> Response:
    return Response()


async def takes_two_bodies(question: Question, other: Question) -> Response:
    return Response()


async def takes_the_response(customer_id: CustomerId, response: Response) -> Response:
    return response


def takes_a_body_synchronously(question: Question, request: Request) -> Response:
    return Response()


def declare(endpoint, dependencies=()) -> None:
    APIRouter(route_class=HotRoute, dependencies=list(dependencies)).add_api_route(
        "/customers/{customer_id}", endpoint, methods=["POST"]
    )


@pytest.mark.parametrize("endpoint", [takes_a_body_and_the_request, takes_a_path_parameter_and_the_caller])
def test_an_endpoint_it_can_call_is_accepted(endpoint):
    declare(endpoint)


@pytest.mark.parametrize(
    "endpoint", [takes_a_query_parameter, takes_two_bodies, takes_the_response, takes_a_body_synchronously]
)
def test_an_endpoint_it_cannot_call_is_refused_when_declared(endpoint):
    with pytest.raises(TypeError, match=endpoint.__name__):
        declare(endpoint)


def test_a_dependency_it_would_not_run_is_refused_when_declared():
    async def rate_limited() -> None:
        pass

    declare(takes_a_body_and_the_request, [Depends(caller)])
    with pytest.raises(TypeError, match="rate_limited"):
        declare(takes_a_body_and_the_request, [Depends(rate_limited)])
