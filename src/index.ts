/**
 * margin-lab: open-set recognition losses, data, training, evaluation and plots on TensorFlow.js.
 *
 * This file is the public API, listed name by name: what is not here (kernel registration, input
 * checks, checkpoint internals, plot styling) may change without notice. Tests that need an
 * internal import it from its module path (e.g. 'margin-lab/dist/losses/ops').
 *
 * `tf` is re-exported so notebooks and user code share the one tfjs-core instance that the
 * backends are registered on.
 */
import * as tf from './tf';

export { tf };

// Backends: choose, report, and the WebGPU adapters
export { backendReport, useBestBackend, MAX_WASM_THREADS, BACKEND_NAMES } from './backend';
export type { BackendName, BackendReport, UseBackendOptions } from './backend';
export { probeAdapters, adapterLine, activeAdapter, readSyncAvailable } from './backend/webgpu';
export type { AdapterSummary, ProbeResult } from './backend/webgpu';

// Losses
export { adaFace, ADAFACE_EPS, AdaFace } from './losses/adaface';
export type { AdaFaceOptions, AdaFaceContext } from './losses/adaface';
export { arcFace, ArcFace } from './losses/arcface';
export type { ArcFaceOptions } from './losses/arcface';
export { centerLoss, softmaxCenterLoss, CenterLoss, SoftmaxCenterLoss } from './losses/center';
export type { CenterLossOptions, SoftmaxCenterOptions } from './losses/center';
export { combinedMargin, CombinedMargin, marginPresets } from './losses/combined';
export type { CombinedMarginOptions } from './losses/combined';
export { contrastiveLoss, ContrastiveLoss } from './losses/contrastive';
export type { PairDistance, ContrastiveOptions } from './losses/contrastive';
export { cosFace, CosFace } from './losses/cosface';
export type { CosFaceOptions } from './losses/cosface';
export { curricularFace, CurricularFace } from './losses/curricularface';
export type { CurricularFaceOptions } from './losses/curricularface';
export { CosineHead, MarginWarmup } from './losses/head';
export type {
  ComputeOptions,
  EmbeddingLoss,
  ClassifierHead,
  HeadOptions,
  TargetContext,
  NegativesContext,
  WeightInit,
  MarginWarmupOptions,
  MarginWarmupArgs,
} from './losses/head';
export { spreadDirections } from './losses/init';
export { batchAll, batchHard, semiHard, miners } from './losses/miners';
export type { Triplets, MinerInput, TripletMiner, MinerName } from './losses/miners';
export { normFace, NormFace } from './losses/normface';
export type { NormFaceOptions } from './losses/normface';
export { l2Normalize, pairwiseSquaredDistances } from './losses/ops';
export {
  lossEntry,
  entryOf,
  lossStats,
  lossesWithOption,
  createLoss,
  registerLoss,
  registeredLosses,
  lossOptionsMarkdown,
  LOSS_TABLE,
  LOSS_NAMES,
  PAIR_LOSSES,
} from './losses/registry';
export type { LossKind, LossOption, LossEntry, LossName, LossParams } from './losses/registry';
export { lossFlagHelp } from './losses/flags';
export {
  defineLoss,
  resolveOptions,
  specConfig,
  checkOption,
  optionHelp,
  scaleOption,
  angularMarginOption,
  MARGIN_WARMUP_OPTION,
} from './losses/spec';
export type { LossSpec, Resolved } from './losses/spec';
export { softmaxLoss, SoftmaxLoss } from './losses/softmax';
export { sphereFace, LambdaSchedule, SphereFace } from './losses/sphereface';
export type { LambdaScheduleOptions, SphereFaceOptions } from './losses/sphereface';
export { subCenterArcFace, SubCenterArcFace } from './losses/subcenter-arcface';
export type { SubCenterArcFaceOptions } from './losses/subcenter-arcface';
export { tripletLoss, TripletLoss } from './losses/triplet';
export type { TripletOptions, TripletStats } from './losses/triplet';
export { LossInputError } from './losses/validate';
export type { LabelsLike } from './losses/validate';

// Data
export {
  dataDir,
  loadFashionMnist,
  loadMnistDigits,
  subset,
  parseClassList,
  selectClasses,
  openSetSplit,
  FASHION_MNIST_CLASSES,
} from './data/dataset';
export type { Dataset, ClassSubset, OpenSetSplit } from './data/dataset';
export { decodeImage, loadImageFolder, parseLfwPairs } from './data/faces';
export type { ImageFolderOptions, ImageFolderDataset, LfwPair } from './data/faces';
export { hangulSyllables, loadHangulGlyphs, seededClassSplit, splitByFace } from './data/glyphs';
export type { GlyphFaceMeta, GlyphFileRecord, GlyphMeta, GlyphDataset } from './data/glyphs';
export { parseIdx, encodeIdx, readIdxFile, defaultIdxLimit, DataFileError } from './data/idx';
export type { ReadIdxOptions } from './data/idx';
export type { IdxArray } from './data/idx';
export {
  datasetClassCount,
  loadNamedDataset,
  namedOpenSetSplit,
  DATASET_NAMES,
  GLYPH_FACE_SPLIT_SEED,
  DatasetArgumentError,
} from './data/named';
export type { DatasetName, NamedSplitOptions } from './data/named';
export { verificationPairs, pkBatches } from './data/pairs';
export type { VerificationPairs } from './data/pairs';

// Backbones
export {
  mlp,
  lenetPlusPlus,
  smallResNet,
  referenceNet,
  buildBackbone,
  BACKBONES,
  NECK_LAYOUTS,
  resolveNeckLayout,
} from './models';
export type { BackboneName, BackboneSpec, NeckLayout } from './models';

// Training and checkpoints
export { loadEmbeddingModel } from './models/load';
export { loadForInference, CHECKPOINT_FORMAT, CHECKPOINT_VERSION, CHECKPOINT_VERSIONS } from './train/checkpoint';
export { CheckpointSchemaError, CHECKPOINT_LIMITS } from './train/checkpoint-schema';
export type { CheckpointData, CheckpointFiles, StoredTensor } from './train/checkpoint';
export { ProgressReporter } from './train/progress';
export type { ProgressMode } from './train/progress';
export {
  TRAIN_OPTIONS,
  SCHEDULE_OPTIONS,
  DATA_OPTIONS,
  TRAINING_OPTIONS,
  OPTIMIZER_NAMES,
  SCHEDULE_TYPES,
  optionOfFlag,
} from './train/options';
export type { OptionScope, ScopedOption } from './train/options';
export { BACKBONE_OPTIONS } from './models/options';
export { acceptsValue, expectedText } from './util/option-decl';
export type { OptionDecl } from './util/option-decl';
export type { NumericRange } from './util/range';
export { learningRateAt, classScores, train, TrainingDivergedError, TrainingInterruptedError } from './train/trainer';
export type {
  OptimizerName,
  ScheduleOptions,
  TrainData,
  TrainOptions,
  EpochRow,
  StepRow,
  TrainResult,
} from './train/trainer';

// Evaluation and the open-set benchmark
export {
  roc,
  auc,
  eer,
  tarAtFar,
  bestThreshold,
  kFoldAccuracy,
  normalizeRows,
  cosineAt,
  pairScores,
  rankKAccuracy,
  openSetIdentification,
  geometryStats,
  ownWeightAgreement,
  formatWeightAgreement,
  pairAngleHistograms,
} from './eval/metrics';
export type { RocCurve, TarAtFar, FoldAccuracy, OpenSetResult, GeometryStats, WeightAgreement } from './eval/metrics';
export {
  runOpenSetBenchmark,
  summarize as summarizeBenchmark,
  summaryMarkdown as benchmarkMarkdown,
  benchmarkBars,
  benchmarkRocs,
  benchmarkFrame,
  loadBenchmarkResults,
  glyphContactSheet,
  CORE_LOSSES,
  EXTRA_LOSSES,
  BENCHMARK_RECIPES,
  benchmarkSplit,
  benchmarkRun,
} from './benchmark';
export type { BenchmarkConfig, BenchmarkRun, BenchmarkRun as BenchmarkRunResult } from './benchmark';
export { openSetMetrics } from './eval/open-set';
export type { OpenSetMetrics } from './eval/open-set';
export { embedImages, embedImagesAsync, evaluateEmbeddings, formatReport } from './eval/report';
export type { EvalReport, EvalOptions } from './eval/report';

// Plots
export {
  weightDirections,
  featuresEuclidean2d,
  featuresOnCircle,
  featuresOnSphere,
  angleHistogram,
} from './plot/features';
export type { Points, FeatureOptions } from './plot/features';
export { findChromium, saveImage } from './plot/image';
export {
  curveOf,
  boundaryPoints,
  noWinRegion,
  decisionBoundaries,
  targetLogitCurves,
  marginExplorer,
  noMargin,
} from './plot/margins';
export type { MarginCurve, Boundary, BoundaryPlotOptions, ExplorerLoss } from './plot/margins';
export { rocCurves, pairAngleHistogram, trainingCurves, confusionMatrix } from './plot/metrics';
export type { RocRun } from './plot/metrics';
export { plotlyBundle, plotlyVersion, figureHtml, show, figuresPage, saveHtml } from './plot/show';
export type { Figure } from './plot/show';

// Notebook and file helpers
export { writeFileAtomic, removeStaleTemps, DiskFullError } from './util/fs';
export type { WriteAtomicOptions } from './util/fs';
export { inNotebook, displayBundle, LiveDisplay } from './util/notebook';
export { Rng } from './util/random';
export {
  quickMode,
  fashionOpenSet,
  mnistOpenSet,
  glyphOpenSet,
  trainEmbedding,
  embedSet,
  headWeights,
  predictClasses,
  checkAgainst,
  checkMode,
  setCheckMode,
} from './workbook';
export type { RunResult, Checkable, CheckResult, CheckMode } from './workbook';

export { compareTwin, twinMarkdown, TWIN_TOLERANCE } from './experiments/twin';
export { ABLATION_VARIANTS, ABLATION_BUDGET, runAblation, ablationMarkdown } from './experiments/ablation';
export type { AblationVariant, AblationRow, AblationOptions } from './experiments/ablation';
export type { TwinResult, TwinComparison } from './experiments/twin';
export type { DataFrameLike } from './util/dataframe';
export { exportRun, saveLayersModel, EXPORT_FAR, EXPORT_FORMAT, EXPORT_VERSION } from './export';
export type { ExportMeta, ExportSample, ExportOptions, DemoSamples, SavedLayersModel } from './export';
