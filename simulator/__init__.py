"""A faithful fake of the OpenAI Admin API and the ChatGPT Enterprise Compliance API.

Public surface (see each module's docstring):
  simulator.world         World: World.generate(...), world.ground_truth(...), world.manifest(...)
  simulator.model         plain data: Thresholds, Drift, ComplianceEdges, SIZES, the records
  simulator.state         Tenant (data + mutations), WorldState (tenants, keys, blobs, clock)
  simulator.generate      TenantBuilder (one method per planted fixture group), populate_world
  simulator.ground_truth  expected_findings(), the 15 FindingTypeID constants, ExpectedFinding
  simulator.files         planted DLP content, PROFILE_* names, validators, format builders
  simulator.faults        Fault, FAULT_KINDS
  simulator.ratelimit     RateLimitConfig, RateLimiter (stats format)
  simulator.app           create_app(world): the Starlette app
  simulator.server        start_in_thread(world) -> RunningSimulator
  simulator.cli           simulator_app (typer): `serve`
Nothing here imports schemas/ or connectors/: the simulator is an independent implementation
of the APIs described in docs/openai-api.md, so it cannot drift into testing only our own client.
"""
