// A client for the Kubernetes CRI (runtime.v1) on a containerd socket: kubelet's image check before a pull
// (ImageStatus), ListImages for node status, and the pod lifecycle calls of RuntimeService. containerd 1.6
// serves both runtime.v1 and runtime.v1alpha2; v1 is what current kubelets speak.
import { fileURLToPath } from 'node:url';
import {
  type CallOptions,
  type Client,
  credentials,
  type GrpcObject,
  status as grpcStatus,
  loadPackageDefinition,
  type ServiceClientConstructor,
  type ServiceError,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { z } from 'zod';
import { AirlockError } from '../lib/errors.ts';
import type {
  Container,
  ContainerConfig,
  ContainerFilter,
  ContainerStatus,
  CriImage,
  CriVersion,
  PodSandbox,
  PodSandboxConfig,
  PodSandboxFilter,
  PodSandboxStatus,
} from './cri-types.ts';

export type * from './cri-types.ts';

const PROTO_PATH = fileURLToPath(new URL('./cri.proto', import.meta.url));
const DEFAULT_TIMEOUT = 30_000;

/** A CRI call that failed; `grpcCode` is gRPC's status code (5 = NOT_FOUND, 4 = DEADLINE_EXCEEDED). */
export class CriError extends AirlockError {
  readonly address: string;
  readonly method: string;
  readonly grpcCode: number | undefined;

  constructor(address: string, method: string, subject: string, cause: unknown) {
    const grpcCode = (cause as Partial<ServiceError> | undefined)?.code;
    super(
      grpcCode === grpcStatus.UNAVAILABLE || grpcCode === grpcStatus.DEADLINE_EXCEEDED
        ? 'RUNTIME_UNREACHABLE'
        : 'COMMAND_FAILED',
      `CRI ${method}${subject ? ` ${subject}` : ''} at ${address}: ${(cause as Error)?.message ?? String(cause)}`,
      { cause },
    );
    this.name = 'CriError';
    this.address = address;
    this.method = method;
    this.grpcCode = grpcCode;
  }
}

/** True when the runtime answered that the sandbox, container or image does not exist. */
export const isNotFound = (error: unknown): boolean =>
  error instanceof CriError && error.grpcCode === grpcStatus.NOT_FOUND;

type Callback = (error: ServiceError | null, response: unknown) => void;
type GrpcClient = Client &
  Record<string, (request: unknown, options: CallOptions, callback: Callback) => void>;

let services: { runtime: ServiceClientConstructor; image: ServiceClientConstructor } | undefined;

const loadServices = () => {
  if (services) return services;
  const definition = loadSync(PROTO_PATH, { longs: String, enums: String, defaults: true, arrays: true });
  const v1 = (loadPackageDefinition(definition).runtime as GrpcObject).v1 as GrpcObject;
  services = {
    runtime: v1.RuntimeService as ServiceClientConstructor,
    image: v1.ImageService as ServiceClientConstructor,
  };
  return services;
};

export interface CallTimeout {
  /** Milliseconds before the call is abandoned. Default 30 s. */
  timeout?: number;
}

/** Typed wrappers over one address's RuntimeService and ImageService. */
export interface CriClient {
  readonly address: string;
  version(options?: CallTimeout): Promise<CriVersion>;
  runPodSandbox(config: PodSandboxConfig, options?: CallTimeout): Promise<string>;
  stopPodSandbox(id: string, options?: CallTimeout): Promise<void>;
  removePodSandbox(id: string, options?: CallTimeout): Promise<void>;
  podSandboxStatus(id: string, options?: CallTimeout): Promise<PodSandboxStatus>;
  listPodSandbox(filter?: PodSandboxFilter, options?: CallTimeout): Promise<PodSandbox[]>;
  createContainer(
    sandboxId: string,
    config: ContainerConfig,
    sandboxConfig: PodSandboxConfig,
    options?: CallTimeout,
  ): Promise<string>;
  startContainer(id: string, options?: CallTimeout): Promise<void>;
  /** `graceSeconds` between SIGTERM and SIGKILL (0: SIGKILL at once). */
  stopContainer(id: string, graceSeconds: number, options?: CallTimeout): Promise<void>;
  removeContainer(id: string, options?: CallTimeout): Promise<void>;
  containerStatus(id: string, options?: CallTimeout): Promise<ContainerStatus>;
  listContainers(filter?: ContainerFilter, options?: CallTimeout): Promise<Container[]>;
  listImages(options?: CallTimeout): Promise<CriImage[]>;
  /** The image `reference` answers to, or null when kubelet would have to pull it. */
  imageStatus(reference: string, options?: CallTimeout): Promise<CriImage | null>;
  close(): void;
}

const target = (address: string): string => (address.startsWith('unix:') ? address : `unix://${address}`);

const makeClient = (address: string): CriClient => {
  const { runtime, image } = loadServices();
  const runtimeClient = new runtime(target(address), credentials.createInsecure()) as unknown as GrpcClient;
  const imageClient = new image(target(address), credentials.createInsecure()) as unknown as GrpcClient;
  const call = <T>(
    client: GrpcClient,
    method: string,
    request: unknown,
    subject: string,
    options?: CallTimeout,
  ) =>
    new Promise<T>((resolve, reject) => {
      client[method]!(
        request,
        { deadline: Date.now() + (options?.timeout ?? DEFAULT_TIMEOUT) },
        (error, response) =>
          error ? reject(new CriError(address, method, subject, error)) : resolve(response as T),
      );
    });
  const rt = <T>(method: string, request: unknown, subject: string, options?: CallTimeout) =>
    call<T>(runtimeClient, method, request, subject, options);
  return {
    address,
    version: (options) => rt<CriVersion>('Version', { version: 'v1' }, '', options),
    runPodSandbox: async (config, options) =>
      (await rt<{ podSandboxId: string }>('RunPodSandbox', { config }, config.metadata.name, options))
        .podSandboxId,
    stopPodSandbox: async (id, options) =>
      void (await rt('StopPodSandbox', { podSandboxId: id }, id, options)),
    removePodSandbox: async (id, options) =>
      void (await rt('RemovePodSandbox', { podSandboxId: id }, id, options)),
    podSandboxStatus: async (id, options) =>
      (await rt<{ status: PodSandboxStatus }>('PodSandboxStatus', { podSandboxId: id }, id, options)).status,
    listPodSandbox: async (filter, options) =>
      (await rt<{ items: PodSandbox[] }>('ListPodSandbox', { filter }, '', options)).items,
    createContainer: async (sandboxId, config, sandboxConfig, options) =>
      (
        await rt<{ containerId: string }>(
          'CreateContainer',
          { podSandboxId: sandboxId, config, sandboxConfig },
          config.metadata.name,
          options,
        )
      ).containerId,
    startContainer: async (id, options) =>
      void (await rt('StartContainer', { containerId: id }, id, options)),
    stopContainer: async (id, graceSeconds, options) =>
      void (await rt('StopContainer', { containerId: id, timeout: graceSeconds }, id, options)),
    removeContainer: async (id, options) =>
      void (await rt('RemoveContainer', { containerId: id }, id, options)),
    containerStatus: async (id, options) =>
      (await rt<{ status: ContainerStatus }>('ContainerStatus', { containerId: id }, id, options)).status,
    listContainers: async (filter, options) =>
      (await rt<{ containers: Container[] }>('ListContainers', { filter }, '', options)).containers,
    listImages: async (options) =>
      (await call<{ images: CriImage[] }>(imageClient, 'ListImages', {}, '', options)).images,
    imageStatus: async (reference, options) =>
      (
        await call<{ image: CriImage | null }>(
          imageClient,
          'ImageStatus',
          { image: { image: reference } },
          reference,
          options,
        )
      ).image,
    close: () => {
      runtimeClient.close();
      imageClient.close();
      clients.delete(address);
    },
  };
};

const clients = new Map<string, CriClient>();

/** The client for `address` (containerd's socket path or a `unix://` URI), made once and reused. */
export const criClient = (address: string): CriClient => {
  let client = clients.get(address);
  if (!client) {
    client = makeClient(address);
    clients.set(address, client);
  }
  return client;
};

const ImageStatusResponse = z.object({
  image: z
    .object({
      id: z.string(),
      repoTags: z.array(z.string()),
      repoDigests: z.array(z.string()),
      size: z.string().optional(),
    })
    .nullish(),
  info: z.record(z.string(), z.string()),
});

// containerd's verbose `info` entry: its view of the image, including the OCI config kubelet's runtime applies.
const VerboseImageInfo = z.looseObject({
  imageSpec: z.looseObject({
    config: z
      .looseObject({
        Entrypoint: z.array(z.string()).nullish(),
        Cmd: z.array(z.string()).nullish(),
        WorkingDir: z.string().nullish(),
        Env: z.array(z.string()).nullish(),
        User: z.string().nullish(),
      })
      .optional(),
  }),
});

export type ImageRuntimeConfig = NonNullable<z.infer<typeof VerboseImageInfo>['imageSpec']['config']>;

export interface CriImageStatus {
  /** False when kubelet would pull: no image in the CRI's store answers to the reference. */
  found: boolean;
  /** Image ID (config digest) when found. */
  id?: string;
  repoTags: string[];
  repoDigests: string[];
  /** Size in bytes when found. */
  size?: number;
  /** Verbose details (JSON strings by key), only with `verbose: true`. */
  info: Record<string, string>;
}

export interface ImageStatusOptions extends CallTimeout {
  /** Ask for containerd's verbose info (the image's config among it). */
  verbose?: boolean;
}

/**
 * CRI ImageStatus for `reference` (as written in a pod spec: `nginx`, `repo:tag`, `repo@sha256:...`).
 * `address` is containerd's socket path (or a `unix://` URI).
 */
export const imageStatus = async (
  address: string,
  reference: string,
  options: ImageStatusOptions = {},
): Promise<CriImageStatus> => {
  const { image: imageClient } = loadServices();
  // Kept on its own short-lived channel: callers probe sockets that may be gone a moment later.
  const client = new imageClient(target(address), credentials.createInsecure()) as unknown as GrpcClient;
  try {
    const raw = await new Promise<unknown>((resolve, reject) => {
      client.ImageStatus!(
        { image: { image: reference, annotations: {} }, verbose: options.verbose ?? false },
        { deadline: Date.now() + (options.timeout ?? DEFAULT_TIMEOUT) },
        (error, response) =>
          error ? reject(new CriError(address, 'ImageStatus', reference, error)) : resolve(response),
      );
    });
    const { image, info } = ImageStatusResponse.parse(raw);
    if (!image) return { found: false, repoTags: [], repoDigests: [], info };
    const size = image.size === undefined ? undefined : Number(image.size);
    return {
      found: true,
      id: image.id,
      repoTags: image.repoTags,
      repoDigests: image.repoDigests,
      size,
      info,
    };
  } finally {
    client.close();
  }
};

/** The image's entrypoint, command, working directory, environment and user, as the CRI runtime sees them. */
export const imageRuntimeConfig = async (address: string, reference: string): Promise<ImageRuntimeConfig> => {
  const status = await imageStatus(address, reference, { verbose: true });
  const info = status.info.info;
  if (!status.found || !info) throw new Error(`CRI ImageStatus ${reference} at ${address}: image not found`);
  return VerboseImageInfo.parse(JSON.parse(info)).imageSpec.config ?? {};
};

/** CRI ListImages: every image the node's runtime has, as node status reports them. */
export const listImages = (address: string, options?: CallTimeout): Promise<CriImage[]> =>
  criClient(address).listImages(options);
