#!/usr/bin/python3
"""Generate tests/data/keras_reference.hpp: reference data from Keras 3's update code.

Run offline with NumPy only (Keras itself is not needed, and not used):

    /usr/bin/python3 tools/make_keras_reference.py

It writes tests/data/keras_reference.hpp (next to this script's repository
root), which tests/test_keras_reference.cpp compares descent's
Options::keras() profiles against.

Keras cannot be installed where this data was made, so this script is Keras 3's
backend-agnostic optimizer code re-implemented line by line in NumPy float64.
Each function below names the file of github.com/keras-team/keras it mirrors,
with the commit read, and quotes the lines; the arithmetic is kept in Keras's
order and grouping (ops.multiply(a, b) -> a * b, and so on), so it is what the
Keras NumPy, JAX and TensorFlow backends compute for float64 variables, up to
their kernels' rounding (FMA contraction, vectorized sqrt). Files read:

    keras/src/optimizers/sgd.py             26083041390163cf3d1774c8538da496feaac231
                                            (and 1937d487b0ee4cf265051c7bd0524f2fd1a2cb51,
                                            same update_step)
    keras/src/optimizers/rmsprop.py         13de96aef1a446c21f545eb929a194ac06b343fd
    keras/src/optimizers/adagrad.py         40c749738e5f82fe5404492913d4700d2965bb64
                                            (and 929c02eb133ec1e98a15abb513e2a195c39771a7,
                                            same update_step)
    keras/src/optimizers/adam.py            13de96aef1a446c21f545eb929a194ac06b343fd
                                            (and 7e4b17c57b00de45bf099fef18b8f05037ebf3c9,
                                            same update_step)
    keras/src/optimizers/adamw.py           26083041390163cf3d1774c8538da496feaac231
    keras/src/optimizers/adamax.py          2e4420340816b990245fea9f32704a6e7e9067e2
    keras/src/optimizers/adadelta.py        13de96aef1a446c21f545eb929a194ac06b343fd
    keras/src/optimizers/nadam.py           13de96aef1a446c21f545eb929a194ac06b343fd
    keras/src/optimizers/lion.py            1937d487b0ee4cf265051c7bd0524f2fd1a2cb51
    keras/src/optimizers/base_optimizer.py  001750db0fbf592a39f1099aef40f8dd595dd7a5
    keras/src/version.py                    179ebebc2906cdd8e3964de2306a44e744c2867d
                                            (__version__ = "3.8.0"; the files above
                                            are from several commits, some newer)

Not mirrored: the PyTorch backend replaces these update steps with
torch._foreach kernels (keras/src/backend/torch/optimizers/torch_adam.py, ...)
that group some operations differently (m*beta_1 + g*(1 - beta_1); weight
decay as variable *= 1 - weight_decay * lr), which changes only rounding.

What one optimizer.apply(grads) does (base_optimizer.py,
BaseOptimizer._backend_apply_gradients, no gradient accumulation, clipping or
EMA):

    grads = self._clip_gradients(grads)           # no-op here
    self._apply_weight_decay(trainable_variables) # before the update
    self._backend_update_step(grads, trainable_variables, self.learning_rate)
    ...
    self._iterations.assign_add(1)

so update_step sees iterations = number of earlier steps, and Adam's
local_step = iterations + 1 is 1 on the first step. The gradient is
computed by the caller before apply(), i.e. at the point before weight decay.

Precision: every variable, gradient and state slot is float64, as in a Keras
run with keras.config.set_floatx("float64"). With that floatx the
learning-rate variable (created with dtype=backend.floatx() in
BaseOptimizer.__init__) is float64 too, so lr is the exact double of the
Python float. (Under the default floatx "float32" it would be float32(lr),
cast back to float64 by update_step's ops.cast(learning_rate,
variable.dtype).) Python-float hyperparameters (rho, epsilon, beta_1, 1 -
beta_1, momentum, weight_decay) enter as float64.

Problem and recording: as tools/make_torch_reference.py, one fixed separable
problem in n = 3 coordinates whose gradient uses only IEEE basic operations,
so that C++ can compute the same gradient with the same operations in the
same order:

    g(x) = a * (x - c) + 0.05 * x * x * x      (elementwise, left to right)

evaluated at the current point before each apply(). The parameters are
recorded at x0, after steps 1..10 and after every 10th step up to 160.

Every number is printed with repr(), which round-trips a double exactly.
"""

import os
import sys

import numpy as np

N_STEPS = 160
RECORDED_STEPS = [0] + list(range(1, 11)) + list(range(20, N_STEPS + 1, 10))

# The problem (the same as tools/make_torch_reference.py's).
A = [1.0, 10.0, 0.1]
C = [1.5, -0.7, 2.3]
X0 = [-1.2, 0.9, -0.4]
CUBIC = 0.05

KERAS_VERSION_READ = "3.8.0 (keras/src/version.py); optimizer files from several commits"


class BaseOptimizer:
    """keras/src/optimizers/base_optimizer.py @ 001750db0fbf592a39f1099aef40f8dd595dd7a5.

    The parts of BaseOptimizer one plain apply() runs (see the module
    docstring): weight decay, update_step, then the iteration counter.
    """

    def __init__(self, learning_rate, weight_decay=None):
        self.learning_rate = float(learning_rate)  # floatx float64: exact
        self.weight_decay = weight_decay
        self.iterations = 0  # "iterations = backend.Variable(0, ...)"

    def apply(self, gradient, variable):
        # "grads = self._clip_gradients(grads)"  (no clipping configured)
        # "self._apply_weight_decay(trainable_variables)"
        variable = self._apply_weight_decay(variable)
        # "self._backend_update_step(grads, trainable_variables,
        #                            self.learning_rate)"
        variable = self.update_step(gradient, variable, self.learning_rate)
        # "self._iterations.assign_add(1)"
        self.iterations += 1
        return variable

    def _apply_weight_decay(self, variable):
        # def _apply_weight_decay(self, variables):
        #     if self.weight_decay is None:
        #         return
        #     for variable in variables:
        #         if self._use_weight_decay(variable):
        #             lr = ops.cast(self.learning_rate, variable.dtype)
        #             wd = ops.cast(self.weight_decay, variable.dtype)
        #             variable.assign(variable - variable * wd * lr)
        if self.weight_decay is None:
            return variable
        lr = np.float64(self.learning_rate)
        wd = np.float64(self.weight_decay)
        return variable - variable * wd * lr


class SGD(BaseOptimizer):
    """keras/src/optimizers/sgd.py @ 26083041390163cf3d1774c8538da496feaac231.

    __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False,
             weight_decay=None, ...)
    build(): one "momentum" slot, zeros, only if self.momentum != 0.
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None):
        super().__init__(learning_rate, weight_decay)
        self.momentum = momentum
        self.nesterov = nesterov
        self.m = np.zeros(len(X0)) if momentum != 0 else None

    def update_step(self, gradient, variable, learning_rate):
        # learning_rate = ops.cast(learning_rate, variable.dtype)
        # gradient = ops.cast(gradient, variable.dtype)
        learning_rate = np.float64(learning_rate)
        m = self.m
        if m is not None:
            # momentum = ops.cast(self.momentum, variable.dtype)
            # self.assign(m, ops.subtract(ops.multiply(m, momentum),
            #                             ops.multiply(gradient, learning_rate)))
            momentum = np.float64(self.momentum)
            m = m * momentum - gradient * learning_rate
            self.m = m
            if self.nesterov:
                # self.assign_add(variable, ops.subtract(
                #     ops.multiply(m, momentum),
                #     ops.multiply(gradient, learning_rate)))
                variable = variable + (m * momentum - gradient * learning_rate)
            else:
                # self.assign_add(variable, m)
                variable = variable + m
        else:
            # self.assign_sub(variable, ops.multiply(gradient, learning_rate))
            variable = variable - gradient * learning_rate
        return variable


class RMSprop(BaseOptimizer):
    """keras/src/optimizers/rmsprop.py @ 13de96aef1a446c21f545eb929a194ac06b343fd.

    __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7,
             centered=False, weight_decay=None, ...)
    build(): "velocity" slots (zeros); "momentum" slots if self.momentum > 0;
    "average_gradient" slots if self.centered.
    """

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7,
                 centered=False, weight_decay=None):
        super().__init__(learning_rate, weight_decay)
        self.rho = rho
        self.momentum = momentum
        self.epsilon = epsilon
        self.centered = centered
        n = len(X0)
        self.velocity = np.zeros(n)
        self.momentum_slot = np.zeros(n) if momentum > 0 else None
        self.average_grad = np.zeros(n) if centered else None

    def update_step(self, gradient, variable, learning_rate):
        # lr = ops.cast(learning_rate, variable.dtype)
        lr = np.float64(learning_rate)
        # rho = self.rho
        rho = self.rho
        # self.assign(velocity, ops.add(ops.multiply(rho, velocity),
        #                               ops.multiply(1 - rho, ops.square(gradient))))
        self.velocity = rho * self.velocity + (1 - rho) * np.square(gradient)
        velocity = self.velocity
        if self.centered:
            # self.assign(average_grad, ops.add(ops.multiply(rho, average_grad),
            #                                   ops.multiply(1 - rho, gradient)))
            # denominator = velocity - ops.square(average_grad) + self.epsilon
            self.average_grad = rho * self.average_grad + (1 - rho) * gradient
            denominator = velocity - np.square(self.average_grad) + self.epsilon
        else:
            # denominator = ops.add(velocity, self.epsilon)
            denominator = velocity + self.epsilon
        # increment = ops.divide(ops.multiply(lr, gradient), ops.sqrt(denominator))
        increment = (lr * gradient) / np.sqrt(denominator)
        if self.momentum > 0:
            # self.assign(momentum, ops.add(ops.multiply(self.momentum, momentum),
            #                               increment))
            # self.assign_sub(variable, momentum)
            self.momentum_slot = self.momentum * self.momentum_slot + increment
            variable = variable - self.momentum_slot
        else:
            # self.assign_sub(variable, increment)
            variable = variable - increment
        return variable


class Adagrad(BaseOptimizer):
    """keras/src/optimizers/adagrad.py @ 40c749738e5f82fe5404492913d4700d2965bb64.

    __init__(self, learning_rate=0.001, initial_accumulator_value=0.1,
             epsilon=1e-7, weight_decay=None, ...)
    build(): "accumulator" slots initialised with
    initializers.Constant(self.initial_accumulator_value).
    """

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7,
                 weight_decay=None):
        super().__init__(learning_rate, weight_decay)
        self.initial_accumulator_value = initial_accumulator_value
        self.epsilon = epsilon
        self.accumulator = np.full(len(X0), np.float64(initial_accumulator_value))

    def update_step(self, gradient, variable, learning_rate):
        # lr = ops.cast(learning_rate, variable.dtype)
        lr = np.float64(learning_rate)
        # self.assign_add(accumulator, ops.square(gradient))
        self.accumulator = self.accumulator + np.square(gradient)
        # self.assign_sub(variable, ops.divide(
        #     ops.multiply(lr, gradient),
        #     ops.sqrt(ops.add(accumulator, self.epsilon))))
        return variable - (lr * gradient) / np.sqrt(self.accumulator + self.epsilon)


class Adam(BaseOptimizer):
    """keras/src/optimizers/adam.py @ 13de96aef1a446c21f545eb929a194ac06b343fd.

    __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999,
             epsilon=1e-7, amsgrad=False, weight_decay=None, ...)
    build(): "momentum" and "velocity" slots (zeros), "velocity_hat" slots
    if self.amsgrad.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, weight_decay=None):
        super().__init__(learning_rate, weight_decay)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.amsgrad = amsgrad
        n = len(X0)
        self.m = np.zeros(n)
        self.v = np.zeros(n)
        self.v_hat = np.zeros(n) if amsgrad else None

    def update_step(self, gradient, variable, learning_rate):
        # lr = ops.cast(learning_rate, variable.dtype)
        lr = np.float64(learning_rate)
        # local_step = ops.cast(self.iterations + 1, variable.dtype)
        local_step = np.float64(self.iterations + 1)
        # beta_1_power = ops.power(ops.cast(self.beta_1, variable.dtype), local_step)
        # beta_2_power = ops.power(ops.cast(self.beta_2, variable.dtype), local_step)
        beta_1_power = np.power(np.float64(self.beta_1), local_step)
        beta_2_power = np.power(np.float64(self.beta_2), local_step)
        # alpha = lr * ops.sqrt(1 - beta_2_power) / (1 - beta_1_power)
        alpha = lr * np.sqrt(1 - beta_2_power) / (1 - beta_1_power)
        # self.assign_add(m, ops.multiply(ops.subtract(gradient, m), 1 - self.beta_1))
        self.m = self.m + (gradient - self.m) * (1 - self.beta_1)
        # self.assign_add(v, ops.multiply(ops.subtract(ops.square(gradient), v),
        #                                 1 - self.beta_2))
        self.v = self.v + (np.square(gradient) - self.v) * (1 - self.beta_2)
        v = self.v
        if self.amsgrad:
            # self.assign(v_hat, ops.maximum(v_hat, v))
            # v = v_hat
            self.v_hat = np.maximum(self.v_hat, v)
            v = self.v_hat
        # self.assign_sub(variable, ops.divide(ops.multiply(m, alpha),
        #                                      ops.add(ops.sqrt(v), self.epsilon)))
        return variable - (self.m * alpha) / (np.sqrt(v) + self.epsilon)


class AdamW(Adam):
    """keras/src/optimizers/adamw.py @ 26083041390163cf3d1774c8538da496feaac231.

    class AdamW(adam.Adam) with
    __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9,
             beta_2=0.999, epsilon=1e-7, amsgrad=False, ...)
    and no update_step of its own: the decoupled decay is
    BaseOptimizer._apply_weight_decay, run before Adam's update_step.
    """

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-7, amsgrad=False):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay)
        if self.weight_decay is None:
            raise ValueError("Argument `weight_decay` must be a float.")


class Adamax(BaseOptimizer):
    """keras/src/optimizers/adamax.py @ 2e4420340816b990245fea9f32704a6e7e9067e2.

    __init__(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
    weight_decay=None, ...); build(): "momentum" (m) and "norm" (u) slots,
    zeros. update_step: m += (g - m) * (1 - beta_1); u = max(beta_2 * u, |g|);
    variable -= (lr * m) / ((1 - beta_1 ** local_step) * (u + epsilon)),
    with local_step = iterations + 1 and beta_1 ** local_step formed as
    ops.power(cast(beta_1), local_step).
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 weight_decay=None):
        super().__init__(learning_rate, weight_decay)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.m = np.zeros(len(X0))
        self.u = np.zeros(len(X0))

    def update_step(self, gradient, variable, learning_rate):
        lr = np.float64(learning_rate)
        local_step = np.float64(self.iterations + 1)
        beta_1_power = np.power(np.float64(self.beta_1), local_step)
        self.m = self.m + (gradient - self.m) * (1 - self.beta_1)
        self.u = np.maximum(self.beta_2 * self.u, np.abs(gradient))
        return variable - (lr * self.m) / ((1 - beta_1_power) * (self.u + self.epsilon))


class Adadelta(BaseOptimizer):
    """keras/src/optimizers/adadelta.py @ 13de96aef1a446c21f545eb929a194ac06b343fd.

    __init__(learning_rate=0.001, rho=0.95, epsilon=1e-7, weight_decay=None,
    ...); build(): "accumulated_grad" and "accumulated_delta_var" slots,
    zeros. update_step, with rms(x) = sqrt(x + epsilon):
    accumulated_grad = rho * accumulated_grad + (1 - rho) * g**2;
    delta_var = -(rms(accumulated_delta_var) * g) / rms(accumulated_grad);
    accumulated_delta_var = rho * accumulated_delta_var + (1 - rho) * delta_var**2;
    variable += lr * delta_var.
    """

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, weight_decay=None):
        super().__init__(learning_rate, weight_decay)
        self.rho = rho
        self.epsilon = epsilon
        self.accumulated_grad = np.zeros(len(X0))
        self.accumulated_delta_var = np.zeros(len(X0))

    def update_step(self, gradient, variable, learning_rate):
        lr = np.float64(learning_rate)
        rho = self.rho

        def rms(x):
            return np.sqrt(x + self.epsilon)

        self.accumulated_grad = rho * self.accumulated_grad + (1 - rho) * np.square(gradient)
        delta_var = -((rms(self.accumulated_delta_var) * gradient) / rms(self.accumulated_grad))
        self.accumulated_delta_var = (rho * self.accumulated_delta_var
                                      + (1 - rho) * np.square(delta_var))
        return variable + lr * delta_var


class Nadam(BaseOptimizer):
    """keras/src/optimizers/nadam.py @ 13de96aef1a446c21f545eb929a194ac06b343fd.

    __init__(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
    weight_decay=None, ...); build(): "momentum" (m) and "velocity" (v)
    slots, zeros, and _u_product = 1 in the variables' dtype.
    _backend_update_step first sets _u_product = _u_product * beta_1 *
    (1 - 0.5 * 0.96 ** (iterations + 1)), then runs update_step:
    u_t = beta_1 * (1 - 0.5 * decay ** local_step),
    u_t_1 = beta_1 * (1 - 0.5 * decay ** next_step) (decay = 0.96,
    local_step = iterations + 1, next_step = iterations + 2),
    u_product_t_1 = u_product_t * u_t_1; m += (g - m) * (1 - beta_1);
    v += (g**2 - v) * (1 - beta_2);
    m_hat = u_t_1 * m / (1 - u_product_t_1) + (1 - u_t) * g / (1 - u_product_t);
    v_hat = v / (1 - beta_2 ** local_step);
    variable -= (m_hat * lr) / (sqrt(v_hat) + epsilon).
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 weight_decay=None):
        super().__init__(learning_rate, weight_decay)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.m = np.zeros(len(X0))
        self.v = np.zeros(len(X0))
        self.u_product = np.float64(1.0)

    def apply(self, gradient, variable):
        # _backend_update_step's product update, before BaseOptimizer's
        # apply runs weight decay and update_step.
        self.u_product = (self.u_product * self.beta_1
                          * (1.0 - 0.5 * np.power(0.96, np.float64(self.iterations + 1))))
        return super().apply(gradient, variable)

    def update_step(self, gradient, variable, learning_rate):
        lr = np.float64(learning_rate)
        local_step = np.float64(self.iterations + 1)
        next_step = np.float64(self.iterations + 2)
        decay = np.float64(0.96)
        beta_1 = np.float64(self.beta_1)
        beta_2 = np.float64(self.beta_2)
        u_t = beta_1 * (1.0 - 0.5 * (np.power(decay, local_step)))
        u_t_1 = beta_1 * (1.0 - 0.5 * (np.power(decay, next_step)))
        u_product_t = self.u_product
        u_product_t_1 = u_product_t * u_t_1
        beta_2_power = np.power(beta_2, local_step)
        self.m = self.m + (gradient - self.m) * (1 - beta_1)
        self.v = self.v + (np.square(gradient) - self.v) * (1 - beta_2)
        m_hat = (u_t_1 * self.m) / (1 - u_product_t_1) + ((1 - u_t) * gradient) / (1 - u_product_t)
        v_hat = self.v / (1 - beta_2_power)
        return variable - (m_hat * lr) / (np.sqrt(v_hat) + self.epsilon)


class Lion(BaseOptimizer):
    """keras/src/optimizers/lion.py @ 1937d487b0ee4cf265051c7bd0524f2fd1a2cb51.

    __init__(learning_rate=0.001, beta_1=0.9, beta_2=0.99, weight_decay=None,
    ...), refusing beta_1 outside (0, 1]; build(): one "momentum" slot per
    variable, zeros.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.99, weight_decay=None):
        super().__init__(learning_rate, weight_decay)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        if beta_1 <= 0 or beta_1 > 1:
            raise ValueError("Argument `beta_1` must be in the [0, 1] range.")
        self.m = np.zeros(len(X0))

    def update_step(self, gradient, variable, learning_rate):
        # lr = ops.cast(learning_rate, variable.dtype)
        # gradient = ops.cast(gradient, variable.dtype)
        # beta_1 = ops.cast(self.beta_1, variable.dtype)
        # beta_2 = ops.cast(self.beta_2, variable.dtype)
        lr = np.float64(learning_rate)
        beta_1 = np.float64(self.beta_1)
        beta_2 = np.float64(self.beta_2)
        # self.assign_sub(variable, ops.multiply(lr, ops.sign(ops.add(
        #     ops.multiply(m, beta_1), ops.multiply(gradient, (1.0 - beta_1))))))
        variable = variable - lr * np.sign(self.m * beta_1 + gradient * (1.0 - beta_1))
        # self.assign(m, ops.add(ops.multiply(m, beta_2),
        #                        ops.multiply(gradient, (1.0 - beta_2))))
        self.m = self.m * beta_2 + gradient * (1.0 - beta_2)
        return variable


# Runs of the optimizers whose descent class is not in Hyper: (identifier,
# Keras call as text, factory, descent's make_optimizer name, key=value
# options on top of profile=keras). Each runs on Keras's defaults but for
# what the call sets.
RUNS = [
    ("adamax_default", "keras.optimizers.Adamax(learning_rate=0.05)",
     lambda: Adamax(learning_rate=0.05), "adamax", "profile=keras,lr=0.05"),
    ("adamax_betas_eps",
     "keras.optimizers.Adamax(learning_rate=0.05, beta_1=0.8, beta_2=0.99, epsilon=1e-3)",
     lambda: Adamax(learning_rate=0.05, beta_1=0.8, beta_2=0.99, epsilon=1e-3), "adamax",
     "profile=keras,lr=0.05,beta1=0.8,beta2=0.99,eps=1e-3"),
    ("adamax_wd", "keras.optimizers.Adamax(learning_rate=0.05, weight_decay=0.1)",
     lambda: Adamax(learning_rate=0.05, weight_decay=0.1), "adamax",
     "profile=keras,lr=0.05,weight_decay=0.1"),
    ("adadelta_default", "keras.optimizers.Adadelta(learning_rate=1.0)",
     lambda: Adadelta(learning_rate=1.0), "adadelta", "profile=keras,lr=1"),
    ("adadelta_rho_eps",
     "keras.optimizers.Adadelta(learning_rate=0.5, rho=0.9, epsilon=1e-4, weight_decay=0.1)",
     lambda: Adadelta(learning_rate=0.5, rho=0.9, epsilon=1e-4, weight_decay=0.1), "adadelta",
     "profile=keras,lr=0.5,rho=0.9,eps=1e-4,weight_decay=0.1"),
    ("nadam_default", "keras.optimizers.Nadam(learning_rate=0.01)",
     lambda: Nadam(learning_rate=0.01), "nadam", "profile=keras,lr=0.01"),
    ("nadam_betas_wd",
     "keras.optimizers.Nadam(learning_rate=0.05, beta_1=0.8, beta_2=0.99, epsilon=1e-4, "
     "weight_decay=0.1)",
     lambda: Nadam(learning_rate=0.05, beta_1=0.8, beta_2=0.99, epsilon=1e-4, weight_decay=0.1),
     "nadam", "profile=keras,lr=0.05,beta1=0.8,beta2=0.99,eps=1e-4,weight_decay=0.1"),
    ("lion_default", "keras.optimizers.Lion(learning_rate=0.02)",
     lambda: Lion(learning_rate=0.02), "lion", "profile=keras,lr=0.02"),
    # lr 0.05 reaches the optimum and turns there, where the betas decide
    # the signs; at lr 0.01 other betas give the same steps.
    ("lion_betas_wd",
     "keras.optimizers.Lion(learning_rate=0.05, beta_1=0.8, beta_2=0.95, weight_decay=0.5)",
     lambda: Lion(learning_rate=0.05, beta_1=0.8, beta_2=0.95, weight_decay=0.5), "lion",
     "profile=keras,lr=0.05,beta1=0.8,beta2=0.95,weight_decay=0.5"),
]

# Keras's own defaults, as the __init__ signatures above read them.
KERAS_DEFAULTS = dict(
    SGD=dict(lr=0.01, momentum=0.0, nesterov=False),
    RMSprop=dict(lr=0.001, rho=0.9, momentum=0.0, eps=1e-7, centered=False),
    AdaGrad=dict(lr=0.001, initial_accumulator=0.1, eps=1e-7),
    Adam=dict(lr=0.001, beta1=0.9, beta2=0.999, eps=1e-7, amsgrad=False),
    AdamW=dict(lr=0.001, beta1=0.9, beta2=0.999, eps=1e-7, amsgrad=False, weight_decay=0.004),
)

# (identifier, descent class, Keras call as text, factory, overrides of
# descent's Options::keras() the C++ side applies). Every case otherwise runs
# on Keras's defaults.
CASES = [
    ("sgd_default", "SGD", "keras.optimizers.SGD()",
     lambda: SGD(), dict()),
    ("sgd_momentum", "SGD", "keras.optimizers.SGD(learning_rate=0.01, momentum=0.9)",
     lambda: SGD(learning_rate=0.01, momentum=0.9), dict(momentum=0.9)),
    ("sgd_nesterov", "SGD",
     "keras.optimizers.SGD(learning_rate=0.01, momentum=0.9, nesterov=True)",
     lambda: SGD(learning_rate=0.01, momentum=0.9, nesterov=True),
     dict(momentum=0.9, nesterov=True)),
    ("rmsprop_default", "RMSprop", "keras.optimizers.RMSprop(learning_rate=0.01)",
     lambda: RMSprop(learning_rate=0.01), dict(lr=0.01)),
    ("rmsprop_centered", "RMSprop",
     "keras.optimizers.RMSprop(learning_rate=0.01, centered=True)",
     lambda: RMSprop(learning_rate=0.01, centered=True), dict(lr=0.01, centered=True)),
    ("rmsprop_momentum", "RMSprop",
     "keras.optimizers.RMSprop(learning_rate=0.005, momentum=0.9)",
     lambda: RMSprop(learning_rate=0.005, momentum=0.9), dict(lr=0.005, momentum=0.9)),
    ("rmsprop_centered_momentum", "RMSprop",
     "keras.optimizers.RMSprop(learning_rate=0.005, momentum=0.9, centered=True)",
     lambda: RMSprop(learning_rate=0.005, momentum=0.9, centered=True),
     dict(lr=0.005, momentum=0.9, centered=True)),
    ("adagrad_default", "AdaGrad", "keras.optimizers.Adagrad(learning_rate=0.05)",
     lambda: Adagrad(learning_rate=0.05), dict(lr=0.05)),
    # weight_decay is base_optimizer's, decoupled, on every Keras optimizer.
    ("sgd_momentum_wd", "SGD",
     "keras.optimizers.SGD(learning_rate=0.01, momentum=0.9, weight_decay=0.5)",
     lambda: SGD(learning_rate=0.01, momentum=0.9, weight_decay=0.5),
     dict(momentum=0.9, weight_decay=0.5)),
    ("rmsprop_wd", "RMSprop",
     "keras.optimizers.RMSprop(learning_rate=0.01, weight_decay=0.5)",
     lambda: RMSprop(learning_rate=0.01, weight_decay=0.5), dict(lr=0.01, weight_decay=0.5)),
    ("adagrad_wd", "AdaGrad", "keras.optimizers.Adagrad(learning_rate=0.05, weight_decay=0.5)",
     lambda: Adagrad(learning_rate=0.05, weight_decay=0.5), dict(lr=0.05, weight_decay=0.5)),
    ("adam_default", "Adam", "keras.optimizers.Adam(learning_rate=0.01)",
     lambda: Adam(learning_rate=0.01), dict(lr=0.01)),
    # lr 0.05: at lr 0.01 v only grows over the 160 steps, so v_hat = v and
    # AMSGrad's path is bitwise Adam's; here it parts from Adam by ~8e-4.
    ("adam_amsgrad", "Adam", "keras.optimizers.Adam(learning_rate=0.05, amsgrad=True)",
     lambda: Adam(learning_rate=0.05, amsgrad=True), dict(lr=0.05, amsgrad=True)),
    ("adamw_default", "AdamW", "keras.optimizers.AdamW(learning_rate=0.01)",
     lambda: AdamW(learning_rate=0.01), dict(lr=0.01)),
    ("adamw_wd0_1", "AdamW",
     "keras.optimizers.AdamW(learning_rate=0.05, weight_decay=0.1)",
     lambda: AdamW(learning_rate=0.05, weight_decay=0.1), dict(lr=0.05, weight_decay=0.1)),
]

# Every field of Hyper: the hyperparameters the Keras run used (Keras's
# defaults where the case does not set them; 0/false where the optimizer has
# no such argument).
HYPER_FIELDS = ["lr", "momentum", "nesterov", "rho", "eps", "centered", "initial_accumulator",
                "beta1", "beta2", "amsgrad", "weight_decay"]
HYPER_ZERO = dict(lr=0.0, momentum=0.0, nesterov=False, rho=0.0, eps=0.0, centered=False,
                  initial_accumulator=0.0, beta1=0.0, beta2=0.0, amsgrad=False, weight_decay=0.0)


def gradient(x, a, c):
    """g(x) = a * (x - c) + 0.05 * x * x * x, elementwise, left to right."""
    return a * (x - c) + CUBIC * x * x * x


def run(factory):
    a = np.array(A, dtype=np.float64)
    c = np.array(C, dtype=np.float64)
    x = np.array(X0, dtype=np.float64)
    opt = factory()
    recorded = {0: x.tolist()}
    for step in range(1, N_STEPS + 1):
        g = gradient(x, a, c)
        x = opt.apply(g, x)
        assert x.dtype == np.float64 and opt.iterations == step
        if step in RECORDED_STEPS:
            recorded[step] = x.tolist()
    return [recorded[s] for s in RECORDED_STEPS]


def r(x):
    """A C++ double literal that round-trips x."""
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, int):
        return str(x)
    s = repr(float(x))
    if "e" not in s and "." not in s and "inf" not in s and "nan" not in s:
        s += ".0"
    return s


def hyper_literal(values):
    return "{%s}" % ", ".join(r(values[k]) for k in HYPER_FIELDS)


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out_path = os.path.join(root, "tests", "data", "keras_reference.hpp")

    lines = []
    w = lines.append
    w("// Generated by tools/make_keras_reference.py with NumPy %s; do not edit." % np.__version__)
    w("#pragma once")
    w("// Reference data from Keras 3's optimizer update code (keras/src/optimizers/")
    w("// {sgd,rmsprop,adagrad,adam,adamw,adamax,adadelta,nadam,lion,base_optimizer}.py,")
    w("// re-implemented line by")
    w("// line in NumPy float64; commits in the script), compared against descent in")
    w("// tests/test_keras_reference.cpp. Regenerate with:")
    w("//     /usr/bin/python3 tools/make_keras_reference.py")
    w("")
    w("namespace keras_reference {")
    w("")
    w('constexpr const char* kKerasSource = "%s";' % KERAS_VERSION_READ)
    w("")
    w("// The problem: g(x) = a * (x - c) + 0.05 * x * x * x, elementwise, evaluated")
    w("// left to right in float64 at the current point before every apply().")
    w("constexpr int kDim = %d;" % len(A))
    w("constexpr double kA[kDim] = {%s};" % ", ".join(r(v) for v in A))
    w("constexpr double kC[kDim] = {%s};" % ", ".join(r(v) for v in C))
    w("constexpr double kX0[kDim] = {%s};" % ", ".join(r(v) for v in X0))
    w("constexpr double kCubic = %s;" % r(CUBIC))
    w("constexpr int kSteps = %d;" % N_STEPS)
    w("constexpr int kNumRecorded = %d;" % len(RECORDED_STEPS))
    w("// Step after which params[k] was recorded (0: x0).")
    w("constexpr int kRecordedSteps[kNumRecorded] = {%s};"
      % ", ".join(str(s) for s in RECORDED_STEPS))
    w("")
    w("/// Hyperparameters of one Keras run, Keras's defaults where the call does")
    w("/// not set them; 0 / false for arguments the optimizer does not have.")
    w("struct Hyper {")
    w("  double lr, momentum;")
    w("  bool nesterov;")
    w("  double rho, eps;")
    w("  bool centered;")
    w("  double initial_accumulator, beta1, beta2;")
    w("  bool amsgrad;")
    w("  double weight_decay;")
    w("};")
    w("")
    w("/// Keras's defaults per optimizer, from the __init__ signatures read.")
    for name, defaults in KERAS_DEFAULTS.items():
        h = dict(HYPER_ZERO)
        h.update(defaults)
        w("constexpr Hyper k%sDefaults%s;" % (name, hyper_literal(h)))
    w("")
    w("/// Which of Hyper's fields a case sets itself; the C++ side applies exactly")
    w("/// these on top of descent's Options::keras().")
    w("struct Overrides {")
    w("  bool lr, momentum, nesterov, centered, amsgrad, weight_decay;")
    w("};")
    w("")
    w("/// One run: params[k] after step kRecordedSteps[k].")
    w("struct Trajectory {")
    w("  const char* keras_call;")
    w("  const char* optimizer;  // descent's class")
    w("  Hyper hyper;")
    w("  Overrides overrides;")
    w("  double params[kNumRecorded][kDim];")
    w("};")
    w("")
    override_fields = ["lr", "momentum", "nesterov", "centered", "amsgrad", "weight_decay"]
    for ident, cls, call, factory, overrides in CASES:
        assert set(overrides) <= set(override_fields), ident
        h = dict(HYPER_ZERO)
        h.update(KERAS_DEFAULTS[cls])
        h.update(overrides)
        opt = factory()
        # The factory's optimizer must hold exactly what Hyper says.
        assert opt.learning_rate == h["lr"], ident
        if cls == "AdamW" or h["weight_decay"] != 0.0:
            assert opt.weight_decay == h["weight_decay"], ident
        else:
            assert opt.weight_decay is None, ident
        traj = run(factory)
        w("constexpr Trajectory %s{" % ident)
        w('    "%s", "%s",' % (call, cls))
        w("    %s," % hyper_literal(h))
        w("    {%s}," % ", ".join(r(k in overrides) for k in override_fields))
        w("    {")
        for step, row in zip(RECORDED_STEPS, traj):
            w("        {%s},  // %d" % (", ".join(r(v) for v in row), step))
        w("    }};")
        w("")
    w("/// A run of an optimizer outside Hyper (Adamax, Adadelta, Nadam, Lion): descent's")
    w("/// make_optimizer name and key=value options (comma-separated) that")
    w("/// reproduce it.")
    w("struct Run {")
    w("  const char* id;")
    w("  const char* keras_call;")
    w("  const char* optimizer;")
    w("  const char* options;")
    w("  double params[kNumRecorded][kDim];")
    w("};")
    w("")
    w("constexpr Run kRuns[] = {")
    for ident, call, factory, name, options in RUNS:
        traj = run(factory)
        w('    {"%s",' % ident)
        w('     "%s",' % call)
        w('     "%s", "%s",' % (name, options))
        w("     {")
        for step, row in zip(RECORDED_STEPS, traj):
            w("         {%s},  // %d" % (", ".join(r(v) for v in row), step))
        w("     }},")
    w("};")
    w("")
    w("}  // namespace keras_reference")
    w("")

    with open(out_path, "w") as f:
        f.write("\n".join(lines))
    print("wrote %s (%d bytes)" % (out_path, os.path.getsize(out_path)), file=sys.stderr)


if __name__ == "__main__":
    main()
