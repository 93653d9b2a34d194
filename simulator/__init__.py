"""A faithful fake of the OpenAI Admin API and the ChatGPT Enterprise Compliance API.

Public surface (see each module's docstring):
  simulator.world         World.generate(...), Tenant (data + mutations), Thresholds, Drift, SIZES
  simulator.ground_truth  expected_findings(), the 15 FindingTypeID constants, ExpectedFinding
  simulator.files         planted DLP content, PROFILE_* names, validators, format builders
  simulator.faults        Fault, FAULT_KINDS
  simulator.ratelimit     RateLimitConfig, RateLimiter (stats format)
  simulator.app           create_app(world): the Starlette app
  simulator.server        start_in_thread(world) -> RunningSimulator
  simulator.cli           simulator_app (typer): `serve`
Nothing here imports schemas/ or connectors/: the simulator is an independent implementation
of reference/openai-api.md, so it cannot drift into testing only our own client.
"""
