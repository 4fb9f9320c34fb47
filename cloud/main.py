"""Example cloud code, loaded at start (`--cloud`, default cloud/main.py): edit it, or point --cloud elsewhere.

It does what the Parse Server peer's cloud.js does, so both servers can be compared call for call.
"""

from app.cloud import Cloud, CloudError, FunctionRequest, ObjectRequest

cloud = Cloud()


@cloud.before_save("Order")
def check_order(request: ObjectRequest) -> None:
    order = request.object
    total = order.get("total")
    if isinstance(total, int | float) and total < 0:
        raise CloudError("total cannot be negative")
    # A new order is pending whatever it holds (cloud.js's `dirty` is true for every key of a new object).
    status = "pending" if not order.existed() or order.dirty("items") else order.get("status")
    if status is not None:
        order.set("status", status)


@cloud.define("hello")
def hello(request: FunctionRequest) -> str:
    return f"Hello, {request.params.get('name') or 'world'}!"
