"""PyTorch: backward() into the variables' .grad, then the update without autograd."""

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
