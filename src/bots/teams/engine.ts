/**
 * The narrow slice of the public face (src/index.ts) the Teams bot stands on. `Switchboard` satisfies
 * it structurally (a test would not compile otherwise), so the bot — and a later port to the Microsoft
 * 365 Agents SDK — depends on this much only. Names and shapes are the face's own.
 */
import type {
  ApprovalView,
  Artifact,
  Conversation,
  ConversationOptions,
  Decision,
  DecideResult,
  ImageInput,
  Json,
  Plan,
  Principal,
  Run,
  SurfaceRefKind,
  SwitchboardEvent,
} from '../../index.js';

export type { ApprovalView, ImageInput, Json };

export interface SurfaceRefs {
  put(surface: string, kind: SurfaceRefKind, id: string, data: Json): Promise<void>;
  claim(surface: string, kind: SurfaceRefKind, id: string, data: Json): Promise<{ claimed: boolean; data: Json }>;
  get(surface: string, kind: SurfaceRefKind, id: string): Promise<Json | null>;
  delete(surface: string, kind: SurfaceRefKind, id: string): Promise<void>;
}

export interface TeamsEngine {
  conversation(key: string, principal: Principal, opts?: ConversationOptions): Promise<Conversation>;
  send(conversationId: string, input: { text: string; images?: ImageInput[]; from: Principal; agent?: string; idempotencyKey?: string }): Promise<Run>;
  getRun(runId: string, principal?: Principal): Promise<Run>;
  cancel(runId: string, reason?: string): Promise<Run>;
  follow(runId: string, opts?: { signal?: AbortSignal }): AsyncIterable<SwitchboardEvent>;
  on(conversationId: string | '*', listener: (event: SwitchboardEvent) => void): () => void;
  plan(conversationId: string, goal: string, principal: Principal): Promise<Plan>;
  getPlan(planId: string, principal?: Principal): Promise<Plan>;
  decide(approvalId: string, decision: Decision): Promise<DecideResult>;
  approvalView(approvalId: string, principal?: Principal): Promise<ApprovalView>;
  readArtifact(id: string, principal?: Principal): Promise<{ artifact: Artifact; bytes: Uint8Array }>;
  readonly refs: SurfaceRefs;
}

/** The face's one-line event description and preview, passed in by whoever mounts the bot. */
export interface FaceHelpers {
  describeEvent(event: SwitchboardEvent): string | null;
  preview(text: string, max?: number): string;
}
