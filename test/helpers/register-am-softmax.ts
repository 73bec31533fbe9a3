/**
 * What a user's `--require FILE` module does: registers a loss of their own (here AM-Softmax, from
 * ./am-softmax) so that the command line trains it and its checkpoints load. test/registry.test.ts
 * passes the compiled file to the train and eval commands.
 */
import * as ml from 'margin-lab';
import { AM_SOFTMAX_SPEC } from './am-softmax';

ml.registerLoss(AM_SOFTMAX_SPEC);
