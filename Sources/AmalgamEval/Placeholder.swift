// Evaluation: tasks, metrics and the evaluator (see Evaluator.swift).
