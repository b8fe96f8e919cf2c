/**
 * The part of the public face the Slack bot stands on, and nothing more: `Switchboard` satisfies it
 * structurally, and tests may hand in the real engine only (no fakes of our own modules). Names and
 * shapes follow the face contract (notes FACE.md); types come from the public barrel.
 */
import type {
  ApprovalView,
  Artifact,
  Conversation,
  DecideResult,
  Decision,
  ImageInput,
  Plan,
  Principal,
  Run,
  SwitchboardEvent,
} from '../../index.js';

export type SurfaceRefKind = 'conversation' | 'run' | 'approval' | 'plan' | 'artifact';
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface SlackEngine {
  conversation(key: string, principal: Principal, opts?: { access?: 'private' | 'shared'; title?: string }): Promise<Conversation>;
  getConversation(id: string, principal?: Principal): Promise<Conversation>;
  send(conversationId: string, input: { text: string; images?: ImageInput[]; from: Principal; agent?: string; idempotencyKey?: string }): Promise<Run>;
  /** Events of a run and its descendants; ends after the root run ends. */
  follow(runId: string, opts?: { signal?: AbortSignal }): AsyncIterable<SwitchboardEvent>;
  /** Stored events of a conversation with seq > after, then live ones. */
  events(conversationId: string, opts?: { after?: number; signal?: AbortSignal }): AsyncIterable<SwitchboardEvent>;
  getRun(runId: string, principal?: Principal): Promise<Run>;
  cancel(runId: string, reason?: string): Promise<Run>;
  listRuns(filter: { conversationId?: string; parentRunId?: string; statuses?: Run['status'][]; limit?: number }, principal?: Principal): Promise<Run[]>;
  plan(conversationId: string, goal: string, principal: Principal): Promise<Plan>;
  getPlan(planId: string, principal?: Principal): Promise<Plan>;
  approvalView(approvalId: string, principal?: Principal): Promise<ApprovalView>;
  decide(approvalId: string, decision: Decision): Promise<DecideResult>;
  readArtifact(id: string, principal?: Principal): Promise<{ artifact: Artifact; bytes: Uint8Array }>;
  refs: {
    put(surface: string, kind: SurfaceRefKind, id: string, data: Json): Promise<void>;
    claim(surface: string, kind: SurfaceRefKind, id: string, data: Json): Promise<{ claimed: boolean; data: Json }>;
    get(surface: string, kind: SurfaceRefKind, id: string): Promise<Json | null>;
    delete(surface: string, kind: SurfaceRefKind, id: string): Promise<void>;
  };
}
