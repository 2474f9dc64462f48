"""A caller scoped to one customer (a customer, as the gateway vouches) reaches no other
customer's objects in any service, even without the gateway's own check in the way: a path
naming another customer gets the 404 an unknown id gets (services/kit/identity.caller). Profile's
customer record: tests/service/profile/test_customers.py. (Routes the access policy does not
give customers at all refuse the role first: tests/service/security/test_api5_broken_function_level_authorization.py.)"""

import pytest

ROUTES = [
    ("consent", "/api/v1/customers/{customer_id}/consents"),
    ("churn", "/api/v1/customers/{customer_id}/points"),
    ("churn", "/api/v1/customers/{customer_id}/points/history"),
    ("recommendation", "/api/v1/customers/{customer_id}/holdings"),
]
ME, SOMEONE_ELSE = "c-scope-me", "c-scope-other"


@pytest.mark.parametrize("component,path", ROUTES)
async def test_another_customers_objects_are_not_found(service, component, path):
    svc = await service(component)
    for customer_id in (ME, SOMEONE_ELSE):
        await svc.know_customer(customer_id)
    async with svc.client("customer", ME, customer_scope=ME) as me:
        mine = await me.get(path.format(customer_id=ME))
        theirs = await me.get(path.format(customer_id=SOMEONE_ELSE))

    assert mine.status_code == 200, mine.text
    assert theirs.status_code == 404, theirs.text
    assert theirs.headers["content-type"] == "application/problem+json"
