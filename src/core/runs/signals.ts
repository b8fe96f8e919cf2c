/** Why a run's signal was aborted: each reason ends the run differently. */
export class CancelSignal {
  /** `announced`: whoever cancelled it (another process) emitted run.cancelled already. */
  constructor(readonly reason: string, readonly announced = false) {}
}
/** The process is shutting down: leave the run as it is so a restart resumes it. */
export class ShutdownSignal {}
export class StallSignal {
  constructor(readonly runId: string) {}
}
