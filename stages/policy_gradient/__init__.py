"""The RL maths, apart from I/O: rollouts are sampled by stages.modeling.sampling; here
are the advantage estimators (one small function each), KL estimators and the adaptive
KL controller, the losses (policy gradient, PPO's clipped surrogate, value, DPO), the
alpha schedule, the critic, and the loop that runs one RL step after another."""
