/**
 * The narrow slice of the public face (src/index.ts, see notes on issue 9) the Teams bot stands on.
 * `Switchboard` satisfies it structurally, so tests and a later Agents-SDK port depend on this much only.
 * Names and shapes follow the face exactly; nothing here reaches past `src/index.ts`.
 */
import type { Approval, ApprovalKind, ApprovalStatus, Conversation, Decision, DecideResult, Plan, Principal, Run, SwitchboardEvent } from '../../index.js';

export type RefKind = 'conversation' | 'run' | 'approval' | 'plan' | 'artifact';
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface SurfaceRefs {
  put(surface: string, kind: RefKind, id: string, data: Json): Promise<void>;
  claim(surface: string, kind: RefKind, id: string, data: Json): Promise<{ claimed: boolean; data: Json }>;
  get(surface: string, kind: RefKind, id: string): Promise<Json | null>;
  delete(surface: string, kind: RefKind, id: string): Promise<void>;
}

export type ImageInput = string | { url: string } | { data: Uint8Array; mediaType: string; name?: string };

export interface ApprovalView {
  approval: Approval;
  kind: ApprovalKind;
  status: ApprovalStatus;
  agent: string;
  requestedBy: Principal | null;
  tool?: { name: string; arguments: unknown };
  step?: { id: string; index: number; agent: string; action: string };
  plan?: { id: string; goal: string };
  canEdit: boolean;
  decidedBy?: Principal;
  decidedAt?: number;
  feedback?: string;
  mayDecide?: { ok: true } | { ok: false; reason: string };
}

export interface ArtifactInfo {
  id: string;
  conversationId: string;
  runId: string | null;
  mediaType: string;
  size: number;
  name: string | null;
  createdAt: number;
}

/** Stored events carry these on the face after issue 9; live-only ones (text.delta) lack `seq`. */
export type FaceEvent = SwitchboardEvent & { seq?: number; rootRunId?: string; parentRunId?: string | null; planId?: string };

export interface TeamsEngine {
  conversation(key: string, principal: Principal, opts?: { access?: 'private' | 'shared'; title?: string }): Promise<Conversation>;
  send(conversationId: string, input: { text: string; images?: ImageInput[]; from: Principal; agent?: string; idempotencyKey?: string }): Promise<Run>;
  getRun(runId: string, principal?: Principal): Promise<Run>;
  cancel(runId: string, reason?: string): Promise<Run>;
  follow(runId: string, opts?: { signal?: AbortSignal }): AsyncIterable<FaceEvent>;
  on(conversationId: string | '*', listener: (event: FaceEvent) => void): () => void;
  plan(conversationId: string, goal: string, principal: Principal): Promise<Plan>;
  getPlan(planId: string, principal?: Principal): Promise<Plan>;
  decide(approvalId: string, decision: Decision): Promise<DecideResult>;
  approvalView(approvalId: string, principal?: Principal): Promise<ApprovalView>;
  readArtifact(id: string, principal?: Principal): Promise<{ artifact: ArtifactInfo; bytes: Uint8Array }>;
  readonly refs: SurfaceRefs;
}

/** The face's one-line event description and preview (passed in, so this folder imports values from nowhere but the barrel). */
export interface FaceHelpers {
  describeEvent(event: FaceEvent): string | null;
  preview(text: string, max?: number): string;
}
