"""PyTorch: backward() into the variables' .grad, then the update without autograd; gradients
of gradients with torch.autograd.grad(create_graph=True)."""

import torch


def minimize(optimizer, variables, loss_fn):
    for variable in variables:
        variable.value.grad = None
    loss, parts = loss_fn()
    optimizer.scale_loss(loss).backward()  # a LossScaleOptimizer's scale (mixed_float16)
    with torch.no_grad():
        optimizer.apply([variable.value.grad for variable in variables], variables)
    return loss.detach(), {name: value.detach() for name, value in parts.items()}


def train_step(model, step, data):
    return step(data)


def default_jit_compile():
    return False


def input_gradients(fn, inputs):
    # A tensor that is not yet part of the graph (a batch of images) becomes a leaf to take
    # the gradient at; one that is (a sentence from a trained encoder) stays in it.
    inputs = [x if x.requires_grad else x.detach().requires_grad_() for x in inputs]
    value, extra = fn(*inputs)
    gradients = torch.autograd.grad(
        value.float().sum(), inputs, create_graph=True, allow_unused=True, materialize_grads=True
    )
    return value, extra, list(gradients)
