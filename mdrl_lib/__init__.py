"""mdrl_lib"""
