#include "sinks/iceberg/ice_due.h"

ice_due
ice_batch_due(const ice_due_in *in)
{
    if (in->rows <= 0)
        return in->other_pending && in->at_txn_end ? ICE_DUE_CLOSE : ICE_DUE_WAIT;
    if (in->rows >= ICE_SPLIT_FACTOR * in->batch_size)
        return ICE_DUE_FULL;
    if (in->at_txn_end)
        return in->rows >= in->batch_size || in->age_ms >= in->flush_ms ? ICE_DUE_CLOSE
                                                                        : ICE_DUE_WAIT;
    /* inside a transaction: split only one far slower than the interval */
    return in->age_ms >= ICE_SPLIT_FACTOR * in->flush_ms ? ICE_DUE_CLOSE : ICE_DUE_WAIT;
}

const char *
ice_due_name(ice_due d)
{
    switch (d) {
    case ICE_DUE_WAIT:
        return "wait";
    case ICE_DUE_CLOSE:
        return "close";
    case ICE_DUE_FULL:
        return "full";
    }
    return "?";
}
